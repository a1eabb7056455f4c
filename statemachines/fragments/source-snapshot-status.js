// Snapshot statuses that end a wait at once, shared by the two wait loops of
// statemachines/source-replicate.asl.yml ("Is The Source Snapshot Available?" and
// "Is The Shared Copy Available?"), which both keep the last describe result in `$.described`.
//
// `available` ends a loop successfully; these statuses can never become `available`, so waiting on
// would only burn the maximum wait. Anything else (`creating`, `copying`, `pending`, a status RDS adds
// later) keeps polling: the loop is bounded by maxWaitMinutes either way.

const VARIABLE = '$.described.status';

module.exports = {
  failed: [
    { Variable: VARIABLE, StringEquals: 'failed' },
    { Variable: VARIABLE, StringMatches: 'incompatible*' },
    { Variable: VARIABLE, StringMatches: 'delet*' },
    { Variable: VARIABLE, StringMatches: '*error*' },
  ],
};
