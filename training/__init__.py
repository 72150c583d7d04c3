"""Training and quizzes (培训考试): courses from Excel, quizzes in chat, internal authorisations on a pass."""
