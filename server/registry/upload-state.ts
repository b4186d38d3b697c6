import { createHmac, timingSafeEqual } from "node:crypto";
import { RegistryError } from "./errors.js";

/** What a `Location` carries about an upload, signed with `http.secret`. */
export interface UploadToken {
  name: string;
  id: string;
  offset: number;
  startedAt: string;
}

/**
 * Signs and checks upload state so that any instance sharing the secret can continue an upload
 * another one started, and nobody can continue an upload under another repository's name.
 */
export class UploadSigner {
  constructor(private readonly secret: Buffer) {}

  sign(token: UploadToken): string {
    const payload = Buffer.from(
      JSON.stringify({ n: token.name, u: token.id, o: token.offset, t: token.startedAt }),
    ).toString("base64url");
    return `${payload}.${this.mac(payload)}`;
  }

  verify(value: string, name: string, id: string): UploadToken {
    const [payload, mac, extra] = value.split(".");
    const invalid = () => new RegistryError("BLOB_UPLOAD_INVALID", { reason: "invalid upload state" });
    if (!payload || !mac || extra !== undefined) throw invalid();
    const expected = Buffer.from(this.mac(payload));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw invalid();
    let decoded: { n?: unknown; u?: unknown; o?: unknown; t?: unknown };
    try {
      decoded = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as typeof decoded;
    } catch {
      throw invalid();
    }
    if (decoded.n !== name || decoded.u !== id || typeof decoded.o !== "number" || typeof decoded.t !== "string") {
      throw invalid();
    }
    return { name, id, offset: decoded.o, startedAt: decoded.t };
  }

  private mac(payload: string): string {
    return createHmac("sha256", this.secret).update(payload).digest("base64url");
  }
}
