import { z } from "zod";
import { bool, describeValue, nonEmptyStr, oneOf, str } from "./scalars.js";
import { optional, section } from "./structure.js";

/**
 * Regular expressions for layer URLs, checked here so that a bad one is a configuration problem
 * (distribution panics at start). They are JavaScript patterns: RE2's inline flags such as
 * `(?i)` are refused.
 */
const patternList = () =>
  z.preprocess(
    (value) => (typeof value === "string" ? [value] : value),
    z.array(
      str().superRefine((pattern, ctx) => {
        try {
          new RegExp(pattern);
        } catch (error) {
          ctx.addIssue({ code: "custom", message: `is not a regular expression: ${(error as Error).message}` });
        }
      }),
      { error: (iss) => `expected a list of regular expressions, got ${describeValue(iss.input)}` },
    ),
  );

export const validationSchema = section({
  enabled: optional(bool()),
  disabled: optional(bool()),
  manifests: optional(
    section({
      urls: optional(section({ allow: optional(patternList()), deny: optional(patternList()) })),
      /** Which children of a pushed index must already be in the repository (distribution 3.x). */
      indexes: optional(
        section({
          platforms: optional(oneOf(["all", "none", "list"] as const)),
          platformlist: optional(
            z.array(section({ os: nonEmptyStr(), architecture: nonEmptyStr() }), {
              error: (iss) => `expected a list of platforms (os, architecture), got ${describeValue(iss.input)}`,
            }),
          ),
        }),
      ),
    }),
  ),
});
