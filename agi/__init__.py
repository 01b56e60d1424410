"""Voice flows over AGI: the temporary-password IVR (IVR-*) and call routing (CALL-*)."""
