import { z } from "zod";
import { absoluteUrl, bool, duration, headers, int, nonEmptyStr } from "./scalars.js";
import { optional, section } from "./structure.js";

const checkTiming = { interval: optional(duration()), threshold: optional(int({ min: 0 })) };

export const healthSchema = section(
  {
    storagedriver: optional(section({ enabled: optional(bool()), ...checkTiming })),
    file: optional(z.array(section({ file: nonEmptyStr(), ...checkTiming }))),
    http: optional(
      z.array(
        section({ uri: absoluteUrl(), headers: optional(headers()), statuscode: optional(int({ min: 100, max: 599 })), timeout: optional(duration()), ...checkTiming }),
      ),
    ),
    tcp: optional(z.array(section({ addr: nonEmptyStr(), timeout: optional(duration()), ...checkTiming }))),
  },
  { envAliases: { FILECHECKERS: "file", HTTPCHECKERS: "http", TCPCHECKERS: "tcp" } },
);
