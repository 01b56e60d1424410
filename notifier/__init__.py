"""AMI events -> call records -> decisions -> mail (MAIL-*, CALL-5)."""
