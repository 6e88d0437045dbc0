"""Review: people grade the written answers, question by question (`questions`, the TA view in `app`)."""
