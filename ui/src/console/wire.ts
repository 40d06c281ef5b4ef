// The console's wire types: the server's Rust types (crates/fieldcheck-protocol/src/console/,
// the domain's Problem and ProblemAction) as generated into `../wire/fieldcheck.ts` by
// `cargo run -p fieldcheck-bridge --features ts --bin gen-ts`, named here for the console's
// views, plus the few shapes the console only sends or reads generically.
export type {
  AuditEntry,
  AuditPage,
  CalendarPage,
  Category,
  ChecklistItem,
  ChecklistTemplate,
  DeviceRow,
  EnrollCode,
  ImportApplied,
  ImportPreview,
  KindChanges,
  PasswordReset,
  Point,
  PointInput,
  PointPage,
  RevokedDevice,
  RowError,
  UserInput,
  UserRow,
  WorkCalendar,
  BulkOp,
  ConsoleActionRequest,
  ConsoleBulkRequest,
  ConsoleBulkResponse,
  ConsoleBulkResult,
  ConsoleDayCount,
  ConsoleMap,
  ConsoleOverview,
  ConsolePhoto,
  ConsolePhotoUploaded,
  ConsolePointRef,
  ConsoleProblemDetail,
  ConsoleProblemPage,
  ConsoleProblemRow,
  ConsoleRanking,
  ConsoleRefCalendar,
  ConsoleRefCategory,
  ConsoleRefDistrict,
  ConsoleRefLabel,
  ConsoleRefPoint,
  ConsoleRefUnit,
  ConsoleReference,
  ConsoleSessionInfo,
  DeadlineRule,
  DispatchPreview,
  ExportJob,
  ExportJobList,
  ExportKind,
  ExportRequest,
  ReportSchedule,
  RoundDetail,
  RoundInput,
  RoundList,
  RoundResultsView,
  RoundSummary,
  Change,
  Tally,
  ReportScheduleInput,
  ReportScheduleList,
  SchedulePeriod,
  ExportState,
  DistrictLevel,
  MapPoint,
  MapProblem,
  PhotoRole,
  PointType,
  Problem,
  ProblemAction,
  ProblemActionKind,
  ProblemSource,
  ProblemStatus,
  RankingBy,
  RankingPeriod,
  RankingRow,
  RejectReason,
  Role,
  Severity,
  TimelineEntry,
  TimelineOutcome,
  TrendPeriod,
  TrendRow,
  UnitKind,
  MemberDecision,
  TeamInput,
  TeamRow,
  VolunteerRow,
  VolunteerSettings,
  VolunteerStatus,
  VolunteersPage,
} from '../wire/fieldcheck'

/** An error answer of the server (`fieldcheck_protocol::ApiError`). */
export interface ApiError {
  code: string
  message: string
}

/** The sign-in body (`fieldcheck_protocol::sync::LoginRequest`). */
export interface ConsoleSignIn {
  username: string
  password: string
}

/** Anything with a Chinese name and maybe an English one (reference rows). */
export interface Named {
  name: string
  name_en?: string | null
}
