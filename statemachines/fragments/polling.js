// The one polling design shared by every wait loop in every state machine.
//
// A loop keeps `$.poll = {attempt, seconds, elapsed, maxSeconds}` in its state data:
//   "Start Polling ..."  (Pass, Parameters: start)   -> first wait of SCHEDULE[0] seconds
//   "Wait For ..."       (Wait, SecondsPath: $.poll.seconds)
//   "Describe ..."       (the read-only RDS call)
//   "Is ... Ready?"      (Choice: done / terminal failure / elapsed >= maxSeconds / Default)
//   "Back Off ..."       (Pass, Parameters: backOff) -> the next wait, back to "Wait For ..."
//
// Why this schedule: RDS phases last from one minute to many hours. Polling every 15 s for the
// first 2 minutes and every 30 s up to 10 minutes keeps the median detection lag of short phases
// near 10-15 s; beyond that each wait is 20% of the time already waited (capped at 30 minutes), so
// the lag stays a small fraction of the phase while the number of polls (and history events)
// grows only with the logarithm of the phase length. A 6-hour phase costs about 46 polls instead
// of 72 at a fixed 300 s, or 1,440 at a fixed 15 s.
//
// `elapsed` counts the seconds waited including the wait in progress; the Choice of each loop
// ends the loop with a timeout once `elapsed >= maxSeconds`. The schedule is generated just long
// enough for that, so `States.ArrayGetItem` never reads past its end.

const FIRST = [
  { upTo: 120, every: 15 },
  { upTo: 600, every: 30 },
];
const GROWTH = 0.2;
const CAP_SECONDS = 1800;
// The parameter maxWaitMinutes: default and range from its schema (both services' schemas give the
// same; test/unit/params-schema.test.ts).
const {
  default: DEFAULT_MAX_WAIT_MINUTES,
  minimum: MIN_MAX_WAIT_MINUTES,
  maximum: MAX_MAX_WAIT_MINUTES,
} = require('../../config/source-params.schema.json').properties.maxWaitMinutes;

function schedule(maxSeconds) {
  const waits = [];
  let elapsed = 0;
  while (elapsed < maxSeconds) {
    const phase = FIRST.find((p) => elapsed < p.upTo);
    const grown = phase ? phase.every : Math.min(CAP_SECONDS, Math.round(elapsed * GROWTH));
    // The last wait ends at the maximum, not a whole interval beyond it.
    const next = Math.min(grown, maxSeconds - elapsed);
    waits.push(next);
    elapsed += next;
  }
  return waits;
}

async function maxWaitSeconds({ resolveVariable }) {
  const raw = await resolveVariable(`param:maxWaitMinutes, ${DEFAULT_MAX_WAIT_MINUTES}`);
  const minutes = Number(raw);
  if (!Number.isInteger(minutes) || minutes < MIN_MAX_WAIT_MINUTES || minutes > MAX_MAX_WAIT_MINUTES) {
    throw new Error(
      `parameter maxWaitMinutes is '${raw}': expected a whole number of minutes from ${MIN_MAX_WAIT_MINUTES} to ${MAX_MAX_WAIT_MINUTES} ` +
        `(for example --param="maxWaitMinutes=${DEFAULT_MAX_WAIT_MINUTES}")`,
    );
  }
  return minutes * 60;
}

module.exports = {
  schedule,
  GROWTH,
  CAP_SECONDS,
  async start(ctx) {
    const maxSeconds = await maxWaitSeconds(ctx);
    return { attempt: 0, seconds: schedule(maxSeconds)[0], elapsed: schedule(maxSeconds)[0], maxSeconds };
  },
  async backOff(ctx) {
    const waits = schedule(await maxWaitSeconds(ctx));
    const next = 'States.MathAdd($.poll.attempt, 1)';
    return {
      'attempt.$': next,
      'seconds.$': `States.ArrayGetItem(States.Array(${waits.join(', ')}), ${next})`,
      'elapsed.$': `States.MathAdd($.poll.elapsed, States.ArrayGetItem(States.Array(${waits.join(', ')}), ${next}))`,
      'maxSeconds.$': '$.poll.maxSeconds',
    };
  },
};
