"""Env worker processes for SB3-style vectorised envs that never import torch.

SB3's ``SubprocVecEnv`` runs its worker function from ``stable_baselines3`` and wraps each env in SB3's
``Monitor``, so every worker imports torch (550 MB resident, 300 MB of it private, against 66 and 27 here). The
worker here is torch-free and speaks the same pipe protocol, so :class:`facebox.agents.vec_env.TorchFreeSubprocVecEnv`
reuses all of SB3's main-process side. It also reports an exception as an :class:`EnvWorkerError` reply,
where SB3's worker dies and leaves the main process a bare ``EOFError``.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import signal
import sys
import traceback
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import EnvSpec
from gymnasium.wrappers import RecordEpisodeStatistics

__all__ = ["EnvFactory", "EnvWorkerError", "WorkerRemote", "start_workers", "worker"]


@dataclass(frozen=True)
class EnvFactory:
    """A picklable env maker that references only torch-free code: the registered spec (no registry lookup in the
    worker), the make() kwargs and the action-space seed, as SB3's ``make_vec_env`` seeds it.

    Episodes are recorded by Gymnasium's ``RecordEpisodeStatistics``, which puts ``info["episode"] = {"r", "l",
    "t"}`` at an episode's end as SB3's ``Monitor`` does (SB3 reads ``r`` and ``l``), without importing SB3.
    """

    spec: EnvSpec
    kwargs: dict[str, Any] = field(default_factory=dict)
    action_seed: int | None = None

    def __call__(self) -> gym.Env:
        env = self.spec.make(**self.kwargs)
        if self.action_seed is not None:
            env.action_space.seed(self.action_seed)
        return RecordEpisodeStatistics(env)


class EnvWorkerError(RuntimeError):
    """An exception in env worker ``index``, raised in the main process with the worker's message and traceback."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(index, message)  # both in args, so that it pickles back from the worker
        self.index = index

    def __str__(self) -> str:
        return f"env worker {self.index}: {self.args[1]}"


def _is_wrapped(env: gym.Env, wrapper_class: type) -> bool:
    """SB3's ``env_util.is_wrapped``, which the worker cannot import without importing torch."""
    while isinstance(env, gym.Wrapper):
        if isinstance(env, wrapper_class):
            return True
        env = env.env
    return False


def _failure(index: int, command: str, error: BaseException) -> EnvWorkerError:
    text = "".join(traceback.format_exception(error)).rstrip()
    return EnvWorkerError(index, f"{command!r} raised {type(error).__name__}: {error}\n\nworker traceback:\n{text}")


_COMMANDS = ("step", "reset", "render", "get_spaces", "env_method", "get_attr", "has_attr", "set_attr", "is_wrapped")


class _EnvServer:
    """One worker's env and the info of its latest reset, which SB3's protocol sends back with every step."""

    def __init__(self, env: gym.Env) -> None:
        self.env = env
        self.reset_info: dict[str, Any] = {}

    def __call__(self, cmd: str, data: Any) -> Any:  # noqa: C901  (one branch per command, as in SB3)
        env = self.env
        if cmd == "step":
            observation, reward, terminated, truncated, info = env.step(data)
            done = terminated or truncated
            info["TimeLimit.truncated"] = truncated and not terminated
            if done:  # SB3's autoreset: the final observation in the info, the next episode's first returned
                info["terminal_observation"] = observation
                observation, self.reset_info = env.reset()
            return observation, reward, done, info, self.reset_info
        if cmd == "reset":
            maybe_options = {"options": data[1]} if data[1] else {}
            observation, self.reset_info = env.reset(seed=data[0], **maybe_options)
            return observation, self.reset_info
        if cmd == "render":
            return env.render()
        if cmd == "get_spaces":
            return env.observation_space, env.action_space
        if cmd == "env_method":
            return env.get_wrapper_attr(data[0])(*data[1], **data[2])
        if cmd == "get_attr":
            return env.get_wrapper_attr(data)
        if cmd == "has_attr":
            try:
                env.get_wrapper_attr(data)
            except AttributeError:
                return False
            return True
        if cmd == "set_attr":
            return setattr(env, data[0], data[1])
        if cmd == "is_wrapped":
            return _is_wrapped(env, data)
        raise ValueError(f"unknown worker command {cmd!r}; SB3's protocol has {_COMMANDS}")


def worker(remote: Connection, parent_remote: Connection, env_fn: Callable[[], gym.Env], index: int) -> None:
    """SB3's ``_worker`` loop (``stable_baselines3.common.vec_env.subproc_vec_env``), command for command, except
    that an exception (in the factory, a command, or pickling its reply) is sent back as an :class:`EnvWorkerError`
    reply and the worker stays up to answer the next command, ``close`` included.

    Ctrl-C in a terminal signals the whole process group: the worker ignores it and keeps serving, so that the
    main process can stop at a consistent step and save a checkpoint (:mod:`facebox.interrupts`); it ends
    on ``close`` or when the main process's end of the pipe goes away.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent_remote.close()
    server = failed = None
    try:
        server = _EnvServer(env_fn())
    except Exception as e:  # every command is then answered with it
        failed = _failure(index, "make", e)
    while True:
        try:
            cmd, data = remote.recv()
        except EOFError:
            break
        if cmd == "close":
            try:
                if server is not None:
                    server.env.close()
            finally:
                remote.close()
            break
        try:
            reply = failed if server is None else server(cmd, data)
        except Exception as e:
            reply = _failure(index, cmd, e)
        try:
            remote.send(reply)
        except OSError:  # the main process is gone
            break
        except Exception as e:  # the reply does not pickle
            remote.send(_failure(index, cmd, e))


class WorkerRemote:
    """The main process's end of worker ``index``'s pipe, used by SB3's ``SubprocVecEnv`` methods as its
    ``remotes``: :meth:`recv` raises an :class:`EnvWorkerError` reply (or a worker's death) as an exception.

    Before raising, it reads the replies still pending from the other workers, so that the pipes stay in step
    for the next command and no worker is left blocked sending a reply when ``close`` joins it.
    """

    def __init__(self, connection: Connection, index: int, process: BaseProcess, group: list[WorkerRemote]) -> None:
        self.connection, self.index, self.process, self.group = connection, index, process, group
        self.pending = 0

    def send(self, message: tuple[str, Any]) -> None:
        try:
            self.connection.send(message)
        except (BrokenPipeError, ConnectionResetError):
            if message[0] == "close":  # a worker that is gone is closed already
                return
            raise self._died() from None
        if message[0] != "close":
            self.pending += 1

    def recv(self) -> Any:
        reply = self._recv()
        if isinstance(reply, EnvWorkerError):
            for other in self.group:
                while other.pending:
                    other._recv()
            raise reply
        return reply

    def _recv(self) -> Any:
        """The next reply, or the worker's death as an :class:`EnvWorkerError` (returned, not raised)."""
        try:
            reply = self.connection.recv()
        except (EOFError, ConnectionResetError):
            self.pending = 0  # no reply will come
            return self._died()
        self.pending -= 1
        return reply

    def close(self) -> None:
        self.connection.close()

    def _died(self) -> EnvWorkerError:
        self.process.join(timeout=5)
        return EnvWorkerError(self.index, f"exited without replying (exit code {self.process.exitcode})")


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Under spawn and forkserver, a child imports the parent's ``__main__`` before unpickling its target (as
    ``__mp_main__``); a training script or ``python -m facebox.agents.train`` imports torch, so the workers would
    too. With a bare ``__main__`` standing in while they start, they import only what their target needs.
    """
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def start_workers(
    env_fns: Sequence[Callable[[], gym.Env]], start_method: str | None = None
) -> tuple[list[WorkerRemote], list[BaseProcess]]:
    """One daemon :func:`worker` process per factory and the main process's ends of their pipes.

    The factories are pickled plainly (not with cloudpickle, whose wrapper is SB3's), so they must be importable
    from a module other than ``__main__``, such as :class:`EnvFactory`. ``start_method`` defaults as in SB3:
    forkserver where available, else spawn (fork would copy the parent's torch into every worker).
    """
    if start_method is None:
        start_method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    ctx = mp.get_context(start_method)
    remotes: list[WorkerRemote] = []
    processes = []
    try:
        with _main_module_hidden():
            for index, env_fn in enumerate(env_fns):
                remote, work_remote = ctx.Pipe()
                # daemon: if the main process crashes, the workers do not outlive it
                process = ctx.Process(target=worker, args=(work_remote, remote, env_fn, index), daemon=True)
                try:
                    process.start()
                finally:
                    work_remote.close()
                remotes.append(WorkerRemote(remote, index, process, remotes))
                processes.append(process)
    except BaseException:  # e.g. a factory that does not pickle: the workers started see EOF and exit
        for remote in remotes:
            remote.close()
        raise
    return remotes, processes
