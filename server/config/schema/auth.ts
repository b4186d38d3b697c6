import { z } from "zod";
import { bool, nonEmptyStr, str, strList } from "./scalars.js";
import { optional, optionalParams, scalarAsKey, section } from "./structure.js";

export const knownAuthMethods = ["silly", "htpasswd", "token"] as const;

export const authSchema = z.preprocess(
  scalarAsKey,
  section(
    {
      silly: optionalParams(section({ realm: nonEmptyStr(), service: nonEmptyStr() }, { open: true })),
      htpasswd: optionalParams(section({ realm: nonEmptyStr(), path: nonEmptyStr() }, { open: true })),
      token: optionalParams(
        section(
          {
            realm: nonEmptyStr(),
            service: nonEmptyStr(),
            issuer: nonEmptyStr(),
            rootcertbundle: optional(nonEmptyStr()),
            autoredirect: optional(bool()),
            autoredirectpath: optional(str()),
            jwks: optional(nonEmptyStr()),
            signingalgorithms: optional(strList()),
          },
          { open: true },
        ),
      ),
    },
    { open: true, skipUnknownKeyWarnings: true, scalarAsKey: true },
  ),
);
