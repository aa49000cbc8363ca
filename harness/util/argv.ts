/**
 * `--repeat -3` would otherwise be read by parseArgs as an option named -3 ("argument is ambiguous"); joined
 * into `--repeat=-3` it reaches the check that says what the option takes.
 */
export function joinNegativeValues(argv: readonly string[], stringOptions: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    if (stringOptions.has(a) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}
