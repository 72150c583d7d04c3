"""Face enrolment and face-checked signatures, on face_recognition (dlib)."""
