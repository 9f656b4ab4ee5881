/**
 * Every CLI run in the tests goes through runCli or runInProcess, and both call this: no secret key
 * given to a run (environment or --secret-key) may appear in anything it printed, so the whole
 * suite is a scan for leaked secrets (issue 5).
 */
export function assertNoSecretLeak(argv: string[], env: Record<string, string | undefined>, ...outputs: string[]): void {
  const secrets = new Set<string>();
  if (env.ILOVEIMG_SECRET_KEY) secrets.add(env.ILOVEIMG_SECRET_KEY);
  const flag = argv.indexOf('--secret-key');
  if (flag >= 0 && argv[flag + 1]) secrets.add(argv[flag + 1]);
  for (const secret of secrets) {
    if (secret.length < 8) continue;
    for (const out of outputs) {
      if (out.includes(secret)) throw new Error(`a secret key was printed by \`iloveimg ${argv.join(' ')}\``);
    }
  }
}
