import { z } from "zod";
import { anyMap, bool, describeValue, int, nonEmptyStr, str, strList } from "./scalars.js";
import { optional, section } from "./structure.js";

// distribution's smaller sections: compatibility, middleware, reporting, catalog, policy.

export const compatibilitySchema = section({
  schema1: optional(
    section(
      {
        signingkeyfile: optional(str()),
        enabled: optional(bool()),
        /** distribution 2.4–2.6 (LAIN's examples); ignored by later versions. */
        disablesignaturestore: optional(bool()),
      },
      { envAliases: { TRUSTKEY: "signingkeyfile" } },
    ),
  ),
});

const middlewareList = () =>
  optional(
    z.array(section({ name: nonEmptyStr(), disabled: optional(bool()), options: optional(anyMap()) }), {
      error: (iss) => `expected a list of middlewares, got ${describeValue(iss.input)}`,
    }),
  );

export const middlewareSchema = section({ registry: middlewareList(), repository: middlewareList(), storage: middlewareList() }, { open: true });

export const reportingSchema = section({
  bugsnag: optional(section({ apikey: optional(str()), releasestage: optional(str()), endpoint: optional(str()) })),
  newrelic: optional(section({ licensekey: optional(str()), name: optional(str()), verbose: optional(bool()) })),
});

export const catalogSchema = section({ maxentries: optional(int()) });

export const policySchema = section({ repository: optional(section({ classes: optional(strList()) })) });
