"""The long-running worker that publishes each post at its minute."""
