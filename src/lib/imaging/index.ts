// Public surface of image intake for state and engines: enumerate files, hash/check them, decode and preprocess
// them as a bounded stream, and the worker pool they share. Re-exports only.
export * from './enumerate.ts';
export * from './intake.ts';
export * from './intake-report.ts';
export * from './image-pool.ts';
export * from './preprocess-stream.ts';
export * from './progress.ts';
export type { ImageFormat, IntakeIssue, IntakeIssueCode } from '../../../workers/image/image-format.ts';
export type { ThumbnailSpec, ImageWorkerStats, InspectOutcome } from '../../../workers/image/image.api.ts';
