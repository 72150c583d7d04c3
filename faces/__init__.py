"""Face enrolment and face-checked signatures (issue #7), on face_recognition (dlib)."""
