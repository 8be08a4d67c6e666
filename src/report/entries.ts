// The common shape SARIF and JUnit render from: one entry per finding, with where it is.

export type Level = 'error' | 'warning' | 'note';

export interface Entry {
  readonly rule: string;
  readonly level: Level;
  readonly message: string;
  readonly fix?: string;
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
  /** File and line of the object when it came from a file. */
  readonly file?: string;
  readonly line?: number;
  readonly mode?: string;
  /** Ids of the compliance controls the rule supports. */
  readonly controls: readonly string[];
  /** Why the finding does not count (an active exemption), for SARIF's suppressions. */
  readonly suppression?: string;
}

/** A test case for JUnit: one per object (check) or per workload/object (audit), with its failures. */
export interface Case {
  readonly classname: string;
  readonly name: string;
  readonly file?: string;
  readonly line?: number;
  readonly failures: readonly Entry[];
  readonly skipped?: string;
}

/** What SARIF says about the tool and the controls its rules support, from the model it renders. */
export interface SarifTool {
  readonly name: string;
  readonly version: string;
  /** Control id -> title. */
  readonly controlTitles: ReadonlyMap<string, string>;
}
