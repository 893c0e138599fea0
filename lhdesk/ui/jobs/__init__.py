"""The Recurring jobs page: a live table of Longhorn RecurringJobs and the editor for every task type."""
