// Ages in whole minutes, for the one comparison of times the source needs (retention grace,
// statemachines/source-replicate-database.asl.yml): JSONPath has timestamp comparisons but no date
// arithmetic, and the source service has no Lambda to do it.
//
//   ageBranch   the one branch of the "Measure The Age Of This Copy" Parallel state, called with
//                 Parameters: { since: <ISO timestamp>, now: <ISO timestamp>, graceMinutes: <n> }
//               (timestamps as Step Functions gives $$.State.EnteredTime and SDK results:
//               `2026-12-01T21:55:42.123Z`). Its result: {sinceMinute, nowMinute,
//               deletableFromMinute = sinceMinute + graceMinutes}, in whole minutes since
//               2000-01-01T00:00Z.
//
// Only States.StringSplit, ArrayGetItem, StringToJson, Format, Array and MathAdd are used. There is
// no multiplication, so years, months, days and hours are looked up in tables generated here
// (exact, leap years included, for FIRST_YEAR to LAST_YEAR). Two-digit fields are read as `1<dd>`
// minus 100, since a JSON number may not start with a zero. Step Functions allows at most 10
// intrinsic functions in one field (developer guide, "Intrinsic functions"), hence three steps.

const FIRST_YEAR = 2000;
const LAST_YEAR = 2199;
const MINUTES_PER_DAY = 1440;
const MAX_FUNCTIONS_PER_FIELD = 10;

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

/** 0 for a common year, 12 for a leap year: the offset into MONTH_STARTS. */
const leapOffsets = () =>
  Array.from({ length: LAST_YEAR - FIRST_YEAR + 1 }, (_, i) => (isLeap(FIRST_YEAR + i) ? 12 : 0));

/** Minutes from 1 January to the first of each month, indexed 1-12 (common year), 13-24 (leap year). */
function monthStarts() {
  const out = [0];
  for (const february of [28, 29]) {
    let minutes = 0;
    for (const days of [31, february, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]) {
      out.push(minutes);
      minutes += days * MINUTES_PER_DAY;
    }
  }
  return out;
}

const table = (values) => `States.Array(${values.join(', ')})`;
const twoDigits = (expr) => `States.MathAdd(States.StringToJson(States.Format('1{}', ${expr})), -100)`;

/** Step 1: the date and time fields of `$.<name>` as numbers (year as an index into the tables). */
function fields(name) {
  const half = (i) => `States.ArrayGetItem(States.StringSplit($.${name}, 'T'), ${i})`;
  const date = (i) => `States.ArrayGetItem(States.StringSplit(${half(0)}, '-'), ${i})`;
  const time = (i) => `States.ArrayGetItem(States.StringSplit(${half(1)}, ':'), ${i})`;
  return {
    'year.$': `States.MathAdd(States.StringToJson(${date(0)}), -${FIRST_YEAR})`,
    'month.$': twoDigits(date(1)),
    'day.$': twoDigits(date(2)),
    'hour.$': twoDigits(time(0)),
    'minute.$': twoDigits(time(1)),
  };
}

/** Step 2: each field in minutes. */
function parts(name) {
  const f = `$.${name}`;
  return {
    'year.$': `States.ArrayGetItem(${table(yearStarts())}, ${f}.year)`,
    'month.$': `States.ArrayGetItem(${table(monthStarts())}, States.MathAdd(States.ArrayGetItem(${table(leapOffsets())}, ${f}.year), ${f}.month))`,
    'day.$': `States.ArrayGetItem(${table(Array.from({ length: 32 }, (_, d) => Math.max(0, d - 1) * MINUTES_PER_DAY))}, ${f}.day)`,
    'hour.$': `States.ArrayGetItem(${table(Array.from({ length: 24 }, (_, h) => h * 60))}, ${f}.hour)`,
    'minute.$': `${f}.minute`,
  };
}

/** Step 3: the sum. */
const total = (name) => {
  const f = `$.${name}`;
  return `States.MathAdd(${f}.year, States.MathAdd(${f}.month, States.MathAdd(${f}.day, States.MathAdd(${f}.hour, ${f}.minute))))`;
};

function ageBranch() {
  return {
    StartAt: 'Read The Date Fields',
    States: {
      'Read The Date Fields': {
        Type: 'Pass',
        Parameters: { since: fields('since'), now: fields('now'), 'graceMinutes.$': '$.graceMinutes' },
        Next: 'Turn The Fields Into Minutes',
      },
      'Turn The Fields Into Minutes': {
        Type: 'Pass',
        Parameters: { since: parts('since'), now: parts('now'), 'graceMinutes.$': '$.graceMinutes' },
        Next: 'Add Up The Minutes',
      },
      'Add Up The Minutes': {
        Type: 'Pass',
        Parameters: {
          'sinceMinute.$': total('since'),
          'nowMinute.$': total('now'),
          'graceMinutes.$': '$.graceMinutes',
        },
        Next: 'Add The Grace',
      },
      'Add The Grace': {
        Type: 'Pass',
        Parameters: {
          'sinceMinute.$': '$.sinceMinute',
          'nowMinute.$': '$.nowMinute',
          'deletableFromMinute.$': 'States.MathAdd($.sinceMinute, $.graceMinutes)',
        },
        End: true,
      },
    },
  };
}

module.exports = {
  FIRST_YEAR,
  LAST_YEAR,
  MAX_FUNCTIONS_PER_FIELD,
  ageBranch: async () => ageBranch(),
};
