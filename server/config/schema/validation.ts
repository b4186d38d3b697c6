import { bool, strList } from "./scalars.js";
import { optional, section } from "./structure.js";

export const validationSchema = section({
  enabled: optional(bool()),
  disabled: optional(bool()),
  manifests: optional(section({ urls: optional(section({ allow: optional(strList()), deny: optional(strList()) })) })),
});
