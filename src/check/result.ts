/**
 * One line of `shadowdb check`: what was checked, how it went, and for a failure (or a warning)
 * what to do. Text for people, JSON for machines; neither ever carries a secret (URLs go through
 * redactUrl before they get here).
 */

export type CheckStatus = "ok" | "warn" | "fail";

export interface CheckResult {
  /** Which check, stable for scripts: "kafka.brokers", "target.privileges", "connect.setting"… */
  check: string;
  status: CheckStatus;
  message: string;
  fix?: string;
}

const symbols: Record<CheckStatus, string> = { ok: "✔", warn: "!", fail: "✖" };

export function checksText(results: CheckResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${symbols[r.status]} ${r.check}: ${r.message}`);
    if (r.fix !== undefined && r.status !== "ok") lines.push(`    fix: ${r.fix}`);
  }
  const failed = results.filter((r) => r.status === "fail").length;
  const warned = results.filter((r) => r.status === "warn").length;
  lines.push("", `${results.length} checks: ${failed} failed, ${warned} warning(s)`);
  return lines.join("\n");
}

export function checksJson(results: CheckResult[]): {
  ok: boolean;
  failed: number;
  warnings: number;
  checks: CheckResult[];
} {
  const failed = results.filter((r) => r.status === "fail").length;
  const warnings = results.filter((r) => r.status === "warn").length;
  return { ok: failed === 0, failed, warnings, checks: results };
}
