/** The kernel's public surface: everything actors/ may import from runtime/. */
export { Actor, actor, actorIn, isActorDefinition } from './behaviour.ts';
export type { ActorDefinition, ActorFunction, ArgsOf, MsgOf, ReplyOf } from './behaviour.ts';
export { Context } from './context.ts';
export type { DeferredReply } from './context.ts';
export {
  AbortError,
  ActorExitedError,
  InvalidArgumentError,
  MailboxFullError,
  NoSuchActorError,
  ProtocolError,
  RemoteError,
  SerializationError,
  SpawnError,
  TimeoutError,
  TroupeError,
} from './errors.ts';
export type { ErrorCode } from './errors.ts';
export { checkOptions, describeValue, invalidOption, neverTaken, onlyKnown, optionsOf, rejecting } from './errors.ts';
export { afterEncoding, decodingForService, decodingLostFor, encodingFor, handOver, registerErrorClass, registerOwnErrorClasses } from './codec.ts';
export { MAIN_LOCAL_ID, actorId, localOf, nodeOf } from './ids.ts';
export { ENDS_AS_SHUTDOWN, LinkedExitError, NameTakenError, REPORTED } from './errors.ts';
export { describeReason, isDown, isExitSignal } from './exit-reason.ts';
export type { Down, ExitReason, ExitSignal } from './exit-reason.ts';
export type { MailboxOptions, Overflow, ReceiveOptions } from './mailbox.ts';
export { currentNode as node, onProcessEnding, setLostLetterHook } from './node.ts';
export type { DeadLetter, DeadLetterReason, ExitEvent, Node, NodeEvents, RestartEvent } from './node.ts';
export { ChildRef, EXITED } from './process/child-ref.ts';
export type { JoinOptions, StopOptions } from './process/child-ref.ts';
export type { Shutdown } from './process/child.ts';
export { ActorRef, DEFAULT_CALL_TIMEOUT_MS } from './ref.ts';
export type { CallOptions } from './ref.ts';
export { activeChildren, current, isMain, spawn } from './spawn.ts';
export { refuseSpawnAtImport, resolveShutdown } from './spawn.ts';
export { isTask, resolveTask, task, taskAt, taskBundle } from './task.ts';
export type { Task, TaskArgs, TaskResult } from './task.ts';
export { DEFAULT_SHUTDOWN_BUDGET_MS, startNode, stopTree } from './embed.ts';
export type { NodeOptions } from './embed.ts';
export { callNamed, register, sendNamed, unregister, whereis } from './registry.ts';
export type { SpawnOptions } from './spawn.ts';
export { Handle, registerHandle } from './service.ts';
export type { Service, ServiceCall, ServiceHandler } from './service.ts';
