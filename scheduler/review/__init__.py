"""Review before publishing: the policy, reviewer links and notices."""
