/** What a configuration reload (SIGHUP, or a file saved in the console) did. */
export interface ReloadResult {
  /** Settings now in effect. */
  applied: string[];
  /** Settings that changed in the file but only take effect after a restart. */
  restartNeeded: string[];
}
