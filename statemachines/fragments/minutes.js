// Timestamps as whole minutes, for the one comparison of ages the source needs (retention grace,
// statemachines/source-replicate-database.asl.yml): JSONPath has timestamp comparisons but no date
// arithmetic, and the source service has no Lambda to do it.
//
//   graceEnd, now     the two expressions source retention uses ("Measure The Age Of This Copy")
//   minutesOf(path)  an intrinsic expression turning the ISO 8601 UTC timestamp at `path`
//                    (`2026-12-01T21:55:42.123Z`, as Step Functions gives $$.Execution.StartTime,
//                    $$.State.EnteredTime and SDK results) into the number of whole minutes since
//                    2000-01-01T00:00Z.
//
// Only States.StringSplit, States.ArrayGetItem, States.StringToJson, States.Format and
// States.MathAdd are used: no multiplication exists, so years, months, days and hours are looked up
// in tables generated here (exact, leap years included, for the years FIRST_YEAR to LAST_YEAR). Two
// digit fields are read as `1<dd>` minus 100, since JSON numbers may not start with a zero.

const FIRST_YEAR = 2000;
const LAST_YEAR = 2199;
const MINUTES_PER_DAY = 1440;

const isLeap = (y) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** Minutes from 2000-01-01 to 1 January of each year FIRST_YEAR..LAST_YEAR. */
function yearStarts() {
  const out = [];
  let minutes = 0;
  for (let y = FIRST_YEAR; y <= LAST_YEAR; y++) {
    out.push(minutes);
    minutes += (isLeap(y) ? 366 : 365) * MINUTES_PER_DAY;
  }
  return out;
}

/** 0 for a common year, 12 for a leap year: the offset into monthStarts. */
const leapOffsets = () =>
  Array.from({ length: LAST_YEAR - FIRST_YEAR + 1 }, (_, i) => (isLeap(FIRST_YEAR + i) ? 12 : 0));

/** Minutes from 1 January to the first of each month: 12 for a common year, then 12 for a leap year. */
function monthStarts() {
  const out = [];
  for (const february of [28, 29]) {
    const lengths = [31, february, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let minutes = 0;
    for (const days of lengths) {
      out.push(minutes);
      minutes += days * MINUTES_PER_DAY;
    }
  }
  return out;
}

const table = (values) => `States.Array(${values.join(', ')})`;
const twoDigits = (expr) => `States.MathAdd(States.StringToJson(States.Format('1{}', ${expr})), -100)`;

function minutesOf(path) {
  const half = (i) => `States.ArrayGetItem(States.StringSplit(${path}, 'T'), ${i})`;
  const date = (i) => `States.ArrayGetItem(States.StringSplit(${half(0)}, '-'), ${i})`;
  const time = (i) => `States.ArrayGetItem(States.StringSplit(${half(1)}, ':'), ${i})`;
  const yearIndex = `States.MathAdd(States.StringToJson(${date(0)}), -${FIRST_YEAR})`;
  const year = `States.ArrayGetItem(${table(yearStarts())}, ${yearIndex})`;
  const monthIndex = `States.MathAdd(States.ArrayGetItem(${table(leapOffsets())}, ${yearIndex}), ${twoDigits(date(1))})`;
  // monthIndex is 1-based: a zero is put in front of the table instead of subtracting one.
  const month = `States.ArrayGetItem(${table([0, ...monthStarts()])}, ${monthIndex})`;
  const day = `States.ArrayGetItem(${table(Array.from({ length: 32 }, (_, d) => Math.max(0, d - 1) * MINUTES_PER_DAY))}, ${twoDigits(date(2))})`;
  const hour = `States.ArrayGetItem(${table(Array.from({ length: 24 }, (_, h) => h * 60))}, ${twoDigits(time(0))})`;
  const minute = twoDigits(time(1));
  return `States.MathAdd(${year}, States.MathAdd(${month}, States.MathAdd(${day}, States.MathAdd(${hour}, ${minute}))))`;
}

module.exports = {
  FIRST_YEAR,
  LAST_YEAR,
  minutesOf,
  /** Source retention: the minute from which a copy dated `$.age.since` may be deleted. */
  graceEnd: async () => `States.MathAdd(${minutesOf('$.age.since')}, $.age.graceMinutes)`,
  /** Source retention: the minute the retention started (`$.now`). */
  now: async () => minutesOf('$.now'),
};
