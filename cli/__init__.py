"""The `lifeboat` command line: sign in, then manage clusters, backups and restores through the
public API (it imports neither activities, workflows nor worker), plus the admin verbs."""
