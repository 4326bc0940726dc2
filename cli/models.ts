/** `leakscope models build`: writes CTR model versions as ONNX files. */
import { LsError, isLsError } from '../common/errors.js';
import { asFlags, numeric, shown, v, validate } from '../common/validate.js';
import { CTR_DEFAULTS, CTR_LIMITS } from '../wire/models/ctr-model.js';
import { type Command, type ParsedArgs, str } from './command.js';

/** An integer option within a range. */
const intOption = (args: ParsedArgs, key: string, min: number, max: number): number =>
  validate(numeric({ min, max, integer: true }), str(args, key) ?? '', asFlags(key));

/** "1,2,5" → [1, 2, 5]; versions are non-negative integers, as TF Serving's folder names. */
const versionsSchema = v.pipe(
  v.string(),
  v.transform((s): (string | number)[] => s.split(',')),
  v.array(numeric({ min: 0, max: Number.MAX_SAFE_INTEGER, integer: true, what: 'a non-negative integer' })),
  v.check(
    (vs) => new Set(vs).size === vs.length,
    (i) => `must not repeat a version, got ${shown(i.input)}`,
  ),
);
const versionsOption = (args: ParsedArgs): readonly number[] =>
  validate(versionsSchema, str(args, 'versions') ?? '', asFlags('versions'));

export const modelsBuildCommand: Command = {
  name: 'models build',
  summary: 'Write CTR model versions as ONNX files (DIR/<version>/model.onnx)',
  usage: 'models build --out DIR [--features N] [--versions 1,2] [--seed S] [--hidden H]',
  description:
    "Builds the reference server's click-through-rate model: N named features (float32 and int64,\n" +
    'each [batch, 1]), a ReLU hidden layer and a sigmoid `prob` output. Weights follow from the\n' +
    'seed and the version, so each version answers differently and rebuilding gives the same files.',
  options: {
    out: { type: 'string', arg: 'DIR', description: 'Model base path to write the version folders into (required)' },
    features: {
      type: 'string',
      arg: 'N',
      description: 'Number of input features',
      default: String(CTR_DEFAULTS.features),
    },
    versions: { type: 'string', arg: 'LIST', description: 'Comma-separated versions to write', default: '1' },
    seed: {
      type: 'string',
      arg: 'S',
      description: 'Weight seed (mixed with each version)',
      default: String(CTR_DEFAULTS.seed),
    },
    hidden: { type: 'string', arg: 'H', description: 'Hidden-layer width', default: String(CTR_DEFAULTS.hidden) },
  },
  examples: [
    'leakscope models build --out /tmp/models/ctr --features 10 --versions 1,2',
    'leakscope serve --model_name ctr --model_base_path /tmp/models/ctr',
  ],
  async run(args, io) {
    const { writeModelVersions } = await import('../wire/models/write-models.js');
    if (args.positionals.length) {
      throw new LsError(
        'LS_ERR_USAGE',
        `unexpected argument '${args.positionals[0]}' (see: leakscope models build --help)`,
      );
    }
    const out = str(args, 'out');
    if (!out) throw new LsError('LS_ERR_INVALID_OPTION', '--out DIR is required');
    const features = intOption(args, 'features', 1, CTR_LIMITS.features);
    const hidden = intOption(args, 'hidden', 1, CTR_LIMITS.hidden);
    const seed = intOption(args, 'seed', 0, 0xffffffff);
    const versions = versionsOption(args);
    const written = await writeModelVersions(out, { features, hidden, seed, versions }).catch((e: Error) => {
      throw isLsError(e)
        ? e
        : new LsError('LS_ERR_BAD_FILE', `cannot write models under --out ${out}: ${e.message}`, { cause: e });
    });
    for (const w of written) {
      io.stdout.write(
        `wrote ${w.path} (version ${w.version}, ${features} features, hidden ${hidden}, ${w.bytes} bytes)\n`,
      );
    }
    return 0;
  },
};
