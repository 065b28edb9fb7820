// The page's state, shared by its parts.

export const POLL_INTERVAL_MS = 400;

export const state = {
  watchGeneration: 0, // a newer watch stops the polling of an older one
  currentReportId: null,
  downloadUrl: null,
  stores: [], // rows of the report shown
  storesById: new Map(),
  detail: null, // the store shown
  storeTrend: null, // its daily uptime (GET /stores/<id>/trend)
  fleetTrend: null, // the fleet trend shown (GET /get_trend/<id>, complete)
  trendGeneration: 0, // a newer fleet trend stops the polling of an older one
};
