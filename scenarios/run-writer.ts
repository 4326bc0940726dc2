/**
 * Writes a run directory (common/run-format.ts) as the run goes: the manifest first (so a
 * killed run is still recognisable), each sample appended as it is taken (so nothing
 * measured is lost), results and the final manifest at the end.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { writeJsonAtomic } from '../common/json-file.js';
import { join } from 'node:path';
import {
  MANIFEST_FILE,
  PROFILE_DIR,
  RESULTS_FILE,
  RUN_FORMAT,
  SAMPLES_FILE,
  SNAPSHOT_DIR,
  type PhaseResult,
  type RunManifest,
  type Sample,
} from '../common/run-format.js';

export class RunWriter {
  readonly snapshotsDir: string;
  readonly profilesDir: string;
  private samples = 0;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.snapshotsDir = join(dir, SNAPSHOT_DIR);
    this.profilesDir = join(dir, PROFILE_DIR);
    mkdirSync(this.snapshotsDir, { recursive: true });
    mkdirSync(this.profilesDir, { recursive: true });
    writeFileSync(join(dir, SAMPLES_FILE), '');
  }

  manifest(m: RunManifest): void {
    writeJsonAtomic(join(this.dir, MANIFEST_FILE), m);
  }

  sample(s: Sample): void {
    appendFileSync(join(this.dir, SAMPLES_FILE), `${JSON.stringify(s)}\n`);
    this.samples++;
  }

  get sampleCount(): number {
    return this.samples;
  }

  results(phases: readonly PhaseResult[]): void {
    writeJsonAtomic(join(this.dir, RESULTS_FILE), { format: RUN_FORMAT, phases });
  }
}
