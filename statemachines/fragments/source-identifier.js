// Choice rules that recognise a string that cannot be an RDS DB instance identifier, used by the
// state "Is The Identifier Well Formed?" of statemachines/source-replicate.asl.yml:
//   - Or: ${file(./statemachines/fragments/source-identifier.js):malformed}
//     Next: Explain Malformed Identifier
//
// JSONPath Choice rules have no regular expressions, only `StringMatches` with `*` as wildcard, so the
// rules describe what an identifier must NOT look like: empty, a digit or hyphen first, a trailing or
// double hyphen, or any printable ASCII character other than letters, digits and hyphens. What
// they cannot see (non-ASCII letters, more than 63 characters) RDS rejects when the state machine
// looks the instance up, which ends in InvalidInput as well.
//
// `?` is deliberately not tested: Step Functions treats it as a literal, the offline executor
// (wildcard-match) as a one-character wildcard, so `*?*` would match every string there.

const VARIABLE = '$.requested';

// Printable ASCII other than letters, digits, hyphen and `?`. `*` and `\` are escaped with `\`, as
// StringMatches requires.
const FORBIDDEN = ' !"#$%&\'()+,./:;<=>@[]^_`{|}~'.split('').concat(['\\*', '\\\\']);

const patterns = [
  '*--*',
  '*-',
  '-*',
  ...'0123456789'.split('').map((digit) => `${digit}*`),
  ...FORBIDDEN.map((character) => `*${character}*`),
];

module.exports = {
  patterns,
  // "Is It A Configured Cluster?" of statemachines/source-replicate-clusters.asl.yml: one rule per
  // configured cluster (exact, as RDS stores identifiers); with none configured, a rule that never matches.
  async configuredClusterRules(ctx) {
    const { clusters } = await require('../../config/source-params.js').all(ctx);
    if (clusters.length === 0) {
      // never matches (the entry is there): every entry is refused, and the state stays reachable
      return [{ Not: { Variable: VARIABLE, IsPresent: true }, Next: 'Accept The Cluster' }];
    }
    return clusters.map((c) => ({ Variable: VARIABLE, StringEquals: c, Next: 'Accept The Cluster' }));
  },
  malformed: [
    { Variable: VARIABLE, StringEquals: '' },
    ...patterns.map((pattern) => ({ Variable: VARIABLE, StringMatches: pattern })),
  ],
};
