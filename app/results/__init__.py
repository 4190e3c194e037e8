"""What a processed video says about itself: the verdict, the report, the per-frame landmarks CSV. Qt-free."""
