import { z } from "zod";
import { absoluteUrl, bool, describeValue, duration, headers, int, nonEmptyStr, strList } from "./scalars.js";
import { optional, section } from "./structure.js";

const notificationEndpoint = section({
  name: nonEmptyStr(),
  disabled: optional(bool()),
  url: absoluteUrl(),
  headers: optional(headers()),
  timeout: optional(duration()),
  threshold: optional(int({ min: 0 })),
  backoff: optional(duration()),
  ignoredmediatypes: optional(strList()),
  ignore: optional(section({ mediatypes: optional(strList()), actions: optional(strList()) })),
});

export const notificationsSchema = section(
  {
    events: optional(section({ includereferences: optional(bool()) })),
    endpoints: optional(z.array(notificationEndpoint, { error: (iss) => `expected a list of endpoints, got ${describeValue(iss.input)}` })),
  },
  { envAliases: { EVENTCONFIG: "events" } },
);
