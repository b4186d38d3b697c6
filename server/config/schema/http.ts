import { absoluteUrl, bool, duration, headers, nonEmptyStr, oneOf, str, strList } from "./scalars.js";
import { optional, section, withDefault } from "./structure.js";

export const tlsVersions = ["tls1.0", "tls1.1", "tls1.2", "tls1.3"] as const;

export const httpSchema = section({
  addr: withDefault(str(), ":5000"),
  net: withDefault(oneOf(["tcp", "tcp4", "tcp6", "unix"] as const), "tcp"),
  prefix: optional(
    str().refine((prefix) => prefix.startsWith("/") && prefix.endsWith("/"), {
      error: 'must start and end with "/" (e.g. "/my/nested/registry/")',
    }),
  ),
  host: optional(absoluteUrl()),
  secret: optional(str()),
  relativeurls: optional(bool()),
  /**
   * Berth's own: the header a proxy in front of Berth sets to the client's address
   * (`X-Forwarded-For`, `X-Real-IP`), for the login rate limits. Absent: the TCP peer's address
   * (a client could write any header itself).
   */
  clientaddressheader: optional(
    nonEmptyStr().refine((name) => /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name), { error: "must be an HTTP header name such as X-Forwarded-For" }),
  ),
  draintimeout: optional(duration()),
  tls: optional(
    section(
      {
        certificate: optional(nonEmptyStr()),
        key: optional(nonEmptyStr()),
        clientcas: optional(strList()),
        minimumtls: optional(oneOf(tlsVersions)),
        ciphersuites: optional(strList()),
        letsencrypt: optional(
          section({
            cachefile: optional(nonEmptyStr()),
            email: optional(nonEmptyStr()),
            hosts: optional(strList()),
            directoryurl: optional(absoluteUrl()),
          }),
        ),
      },
      { envAliases: { CLIENTCAS: "clientcas" } },
    ),
  ),
  headers: optional(headers()),
  debug: optional(
    section({
      addr: optional(str()),
      prometheus: optional(section({ enabled: optional(bool()), path: optional(str()) })),
    }),
  ),
  http2: optional(section({ disabled: optional(bool()) })),
  h2c: optional(section({ enabled: optional(bool()) })),
});
