/**
 * The public endpoints (no token): `GET /healthz` (alive: restart the process when not),
 * `GET /readyz` (the shadow is current: Kafka and the target answer, the snapshot is in, lag is
 * under the limit), `GET /metrics` (Prometheus text) and `GET /status` (JSON).
 */
import { jsonReply, type Route, textReply } from "./router.ts";

export interface PublicWork {
  /** Why the process should be restarted, if it should (empty: healthy). */
  health(): string[];
  /** Why the shadow is not current (empty: ready). */
  ready(): string[];
  /** The Prometheus exposition. */
  metrics(): Promise<{ contentType: string; text: string }>;
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
      path: "/readyz",
      access: "public",
      handle: async () => {
        const reasons = work.ready();
        return jsonReply(reasons.length === 0 ? 200 : 503, { ready: reasons.length === 0, reasons });
      },
    },
    {
      method: "GET",
      path: "/metrics",
      access: "public",
      handle: async () => {
        const { contentType, text } = await work.metrics();
        return textReply(200, text, contentType);
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
