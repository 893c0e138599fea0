"""S3 gateway over boto3 for the Longhorn backupstore layout. No Qt."""
