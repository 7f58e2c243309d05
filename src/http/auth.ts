/**
 * The admin endpoints' bearer token: `Authorization: Bearer <token>`, compared in constant time
 * over SHA-256 digests, so neither the token's characters nor its length leak through timing.
 * The token itself is never logged nor echoed back.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { HttpError } from "./router.ts";

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();

/** RFC 7235: the scheme is case-insensitive; the token is one run of non-space characters. */
const bearerPattern = /^Bearer[ ]+(\S+)[ ]*$/i;

/**
 * A check of an Authorization header against the configured token: returns when it matches,
 * throws the HttpError to answer with otherwise. Without a configured token every admin request
 * is refused (403): nothing could authenticate it.
 */
export function bearerCheck(token: string | undefined): (authorization: string | undefined) => void {
  if (token === undefined || token === "") {
    return () => {
      throw new HttpError(
        403,
        "HTTP_FORBIDDEN",
        "the admin endpoints are off: no http.adminToken is configured",
      );
    };
  }
  const expected = digest(token);
  return (authorization) => {
    const given = authorization === undefined ? undefined : bearerPattern.exec(authorization)?.[1];
    if (given === undefined) {
      throw new HttpError(401, "HTTP_UNAUTHORIZED", "this endpoint needs `Authorization: Bearer <token>`", {
        "www-authenticate": 'Bearer realm="shadowdb"',
      });
    }
    if (!timingSafeEqual(digest(given), expected)) {
      throw new HttpError(403, "HTTP_FORBIDDEN", "the bearer token is not the admin token", {
        "www-authenticate": 'Bearer realm="shadowdb", error="invalid_token"',
      });
    }
  };
}
