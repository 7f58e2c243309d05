/**
 * The public endpoints (no token): `GET /healthz` (alive: the process answers and the
 * materializer has not failed) and `GET /status` (JSON). Readiness and metrics come next.
 */
import { jsonReply, type Route } from "./router.ts";

export interface PublicWork {
  /** Why the process should be restarted, if it should (empty: healthy). */
  health(): string[];
  /** What `GET /status` shows: positions, counts, assignment, overlay figures. */
  status(): Promise<unknown>;
}

export function publicRoutes(work: PublicWork): Route[] {
  return [
    {
      method: "GET",
      path: "/healthz",
      access: "public",
      handle: async () => {
        const reasons = work.health();
        return jsonReply(reasons.length === 0 ? 200 : 503, { healthy: reasons.length === 0, reasons });
      },
    },
    {
      method: "GET",
      path: "/status",
      access: "public",
      handle: async () => jsonReply(200, await work.status()),
    },
  ];
}
