import { bool, duration, int, str, strList } from "./scalars.js";
import { optional, section } from "./structure.js";

export const redisSchema = section({
  addr: optional(str()),
  addrs: optional(strList()),
  username: optional(str()),
  password: optional(str()),
  db: optional(int({ min: 0 })),
  dialtimeout: optional(duration()),
  readtimeout: optional(duration()),
  writetimeout: optional(duration()),
  tls: optional(section({ enabled: optional(bool()) })),
  pool: optional(section({ maxidle: optional(int({ min: 0 })), maxactive: optional(int({ min: 0 })), idletimeout: optional(duration()) })),
  // distribution 3.x's go-redis pool options.
  poolsize: optional(int({ min: 0 })),
  maxidleconns: optional(int({ min: 0 })),
  minidleconns: optional(int({ min: 0 })),
  maxactiveconns: optional(int({ min: 0 })),
  connmaxidletime: optional(duration()),
  connmaxlifetime: optional(duration()),
});
