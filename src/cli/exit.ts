// Exit codes of every command (see program.ts for the contract).
export const EXIT_OK = 0;
/** Something would be denied (or warned, with --fail-on warning). */
export const EXIT_DENY = 1;
/** Bad usage: flags, unreadable input, no Kubernetes objects, unusable config or kubeconfig. */
export const EXIT_USAGE = 2;
