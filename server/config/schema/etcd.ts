import { z } from "zod";
import { absoluteUrl, describeValue, duration, nonEmptyStr, str } from "./scalars.js";
import { optional, section, withDefault } from "./structure.js";

// Berth's own: where LAIN keeps cluster settings.

/** `etcd.endpoints` as a list, a single URL, or a comma-separated string (handy in env vars). */
const etcdEndpoints = z.preprocess(
  (value) => (typeof value === "string" ? value.split(",").map((s) => s.trim()).filter((s) => s !== "") : value),
  z
    .array(absoluteUrl(), { error: (iss) => (iss.input === undefined ? "is required" : `expected a list of URLs, got ${describeValue(iss.input)}`) })
    .min(1, { error: "needs at least one endpoint URL (e.g. http://127.0.0.1:2379)" }),
);

export const defaultEtcdAuthKey = "/lain/config/auth/registry";

export const etcdSchema = section({
  endpoints: etcdEndpoints,
  prefix: optional(str()),
  authkey: withDefault(nonEmptyStr(), defaultEtcdAuthKey),
  username: optional(str()),
  password: optional(str()),
  dialtimeout: optional(duration()),
});
