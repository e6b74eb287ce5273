"""The ApplicationError types that may fail a workflow, listed once."""

from __future__ import annotations

CLUSTER_NOT_FOUND = "ClusterNotFound"
# The lighthouse was deleted while it was being checked.
LIGHTHOUSE_NOT_FOUND = "LighthouseNotFound"
# A namespace of the backup is being backed up by another backup: retried until it is free.
NAMESPACE_BUSY = "NamespaceBusy"
# The backup or restore cannot proceed as asked; the message says why.
INVALID_BACKUP = "InvalidBackup"
BACKUP_NOT_FOUND = "BackupNotFound"
# A rule action failed and its rule says on_error: fail.
RULE_FAILED = "RuleFailed"
# A discovery run whose configuration was deleted meanwhile.
DISCOVERY_CONFIG_NOT_FOUND = "DiscoveryConfigNotFound"
# The identity provider's SCIM interface could not be read, or listed nobody: no user is marked.
DIRECTORY_UNREADABLE = "DirectoryUnreadable"
# A subscription's license could not be fetched or renewed; the current license stays in force.
LICENSE_NOT_RENEWED = "LicenseNotRenewed"
