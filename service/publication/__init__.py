"""Rules the run queue and the forecast reads share: which forecast is live, what each changed."""
