/**
 * The hot-reload scenario's model writer: during a phase with `reloadEveryS`, a new version
 * of the CTR model lands in the spawned server's model folder every few seconds, as a
 * deployment pipeline would drop it, and versions older than the previous newest are
 * removed from disk (the server's latest{1} policy has already moved past them). The server
 * notices by polling its folder; this unit only writes.
 */
import { readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeModelVersions } from '../wire/models/write-models.js';

export class HotReloader {
  private readonly timer: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();

  /**
   * Starts writing a new version every `everyS` seconds into `modelDir`.
   * @example const r = HotReloader.start(target.modelDir, 3, console.log); …; r.stop();
   */
  static start(modelDir: string, everyS: number, emit: (line: string) => void): HotReloader {
    return new HotReloader(modelDir, everyS, emit);
  }

  private constructor(
    private readonly modelDir: string,
    everyS: number,
    private readonly emit: (line: string) => void,
  ) {
    this.timer = setInterval(() => {
      this.writing = this.next();
    }, everyS * 1000);
    this.timer.unref();
  }

  /**
   * Writes the version after the newest on disk, then removes all but the previous newest.
   * A failure (the folder gone with its server, a full disk) is reported, never thrown: the
   * load goes on and the run records what the server did.
   */
  async next(): Promise<void> {
    try {
      const versions = readdirSync(this.modelDir)
        .filter((n) => /^\d+$/.test(n))
        .map(Number)
        .sort((a, b) => a - b);
      const next = (versions[versions.length - 1] ?? 0) + 1;
      await writeModelVersions(this.modelDir, { features: 10, versions: [next] });
      this.emit(`hot-reload: wrote version ${next}`);
      // Keep the two newest on disk; the server's latest{1} policy has already moved on.
      for (const v of versions.slice(0, -1)) await rm(join(this.modelDir, String(v)), { recursive: true, force: true });
    } catch (e) {
      this.emit(`hot-reload: could not write a new version into ${this.modelDir}: ${(e as Error).message}`);
    }
  }

  /** No new version after this; resolves when a write under way has finished. */
  stop(): Promise<void> {
    clearInterval(this.timer);
    return this.writing;
  }
}
