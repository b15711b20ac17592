"""Build nnfast's compiled kernels: Cython modules under ``nnfast/_kernels`` with C from ``csrc``.

Every ``nnfast/_kernels/*.pyx`` becomes one extension. A module names the C files it needs in a
``# distutils: sources = csrc/...`` line at its top, so adding a kernel never touches this file.

OpenMP is probed with the compiler that will build the extensions: gcc/clang ``-fopenmp``,
MSVC ``/openmp``, Apple clang ``-Xpreprocessor -fopenmp -lomp`` (libomp from Homebrew or
``$LIBOMP_PREFIX``). Without it the build is serial and says so.

Environment switches (all optional, all off by default):

* ``NNFAST_DISABLE_OPENMP=1``  build serial kernels even if OpenMP works.
* ``NNFAST_NATIVE=1``          add ``-march=native`` (local builds only: such a binary may crash
                               on an older CPU, so wheels never set it).
* ``NNFAST_SANITIZE=address``  build with AddressSanitizer (see ``tools/asan.sh``).
* ``NNFAST_EXTENSIONS=a,b``    build only these modules (developer convenience).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
KERNEL_DIR = Path("nnfast") / "_kernels"

OPENMP_PROBE = textwrap.dedent(
    """
    #include <omp.h>
    #include <stdio.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        printf("%d", n > 0 && omp_get_max_threads() > 0);
        return 0;
    }
    """
)


def _truthy(name):
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _homebrew_libomp():
    """Return the libomp prefix on macOS, or None."""
    prefix = os.environ.get("LIBOMP_PREFIX")
    if prefix:
        return prefix
    brew = shutil.which("brew")
    if brew:
        try:
            out = subprocess.run([brew, "--prefix", "libomp"], capture_output=True, text=True, check=True)
            if out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            pass
    for candidate in ("/opt/homebrew/opt/libomp", "/usr/local/opt/libomp"):
        if Path(candidate).exists():
            return candidate
    return None


def openmp_flags(compiler_type):
    """Return ``(compile_args, link_args, include_dirs, library_dirs)`` candidates for OpenMP."""
    if compiler_type == "msvc":
        return ["/openmp"], [], [], []
    if sys.platform == "darwin":
        prefix = _homebrew_libomp()
        inc = [os.path.join(prefix, "include")] if prefix else []
        lib = [os.path.join(prefix, "lib")] if prefix else []
        return ["-Xpreprocessor", "-fopenmp"], ["-lomp"], inc, lib
    return ["-fopenmp"], ["-fopenmp"], [], []


def probe_openmp(compiler, flags):
    """Compile, link and run a tiny OpenMP program; True when all three succeed."""
    cflags, ldflags, incs, libs = flags
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as fh:
            fh.write(OPENMP_PROBE)
        try:
            objs = compiler.compile([src], output_dir=tmp, extra_postargs=cflags, include_dirs=incs)
            exe = os.path.join(tmp, "probe")
            compiler.link_executable(objs, exe, extra_postargs=ldflags, library_dirs=libs)
            if sys.platform == "win32":
                exe += ".exe"
            env = dict(os.environ)
            if libs and sys.platform == "darwin":
                env["DYLD_LIBRARY_PATH"] = os.pathsep.join(libs)
            out = subprocess.run([exe], capture_output=True, text=True, env=env, timeout=60)
            return out.returncode == 0 and out.stdout.strip() == "1"
        except Exception:  # any compiler/linker failure means "no OpenMP"
            return False


class BuildExt(build_ext):
    """build_ext that adds OpenMP (when the probe passes) and optimisation flags per compiler."""

    def build_extensions(self):
        ctype = self.compiler.compiler_type
        compile_args, link_args, macros = [], [], []
        incs, libdirs = [], []
        if ctype == "msvc":
            compile_args += ["/O2", "/fp:precise"]
        else:
            compile_args += ["-O3", "-fno-math-errno", "-fno-trapping-math",
                             "-Wno-unused-function", "-Wno-unreachable-code"]
            if _truthy("NNFAST_NATIVE"):
                compile_args.append("-march=native")
            sanitize = os.environ.get("NNFAST_SANITIZE", "").strip()
            if sanitize:
                compile_args += [f"-fsanitize={sanitize}", "-fno-omit-frame-pointer", "-O1", "-g"]
                link_args += [f"-fsanitize={sanitize}"]

        if _truthy("NNFAST_DISABLE_OPENMP"):
            print("nnfast: OpenMP disabled by NNFAST_DISABLE_OPENMP; building serial kernels.")
        else:
            flags = openmp_flags(ctype)
            if probe_openmp(self.compiler, flags):
                compile_args += flags[0]
                link_args += flags[1]
                incs += flags[2]
                libdirs += flags[3]
                macros.append(("NNF_HAVE_OPENMP", "1"))
                print(f"nnfast: building with OpenMP ({' '.join(flags[0])}).")
            else:
                self.warn(
                    "nnfast: the compiler cannot build OpenMP programs; building SERIAL kernels. "
                    "Install libomp (macOS: `brew install libomp`) or a compiler with OpenMP "
                    "for multi-core speed."
                )
        if ctype != "msvc":  # recorded for `nnfast info` (MSVC's command line quoting differs)
            macros.append(("NNF_BUILD_FLAGS", '"' + " ".join(compile_args).replace('"', "") + '"'))
        for ext in self.extensions:
            ext.extra_compile_args = compile_args + ext.extra_compile_args
            ext.extra_link_args = link_args + ext.extra_link_args
            ext.define_macros = macros + ext.define_macros
            ext.include_dirs = incs + ext.include_dirs
            ext.library_dirs = libdirs + ext.library_dirs
        super().build_extensions()


def kernel_extensions():
    """One Extension per ``nnfast/_kernels/*.pyx`` (optionally filtered by NNFAST_EXTENSIONS)."""
    import numpy
    from Cython.Build import cythonize

    wanted = {n.strip() for n in os.environ.get("NNFAST_EXTENSIONS", "").split(",") if n.strip()}
    # norm.pyx's row shuffle calls numpy's own random_interval (numpy/random/distributions.h),
    # from the static library numpy ships for extensions ("Extending numpy.random")
    npyrandom = {"library_dirs": [os.path.join(os.path.dirname(numpy.__file__), "random", "lib")],
                 "libraries": ["npyrandom"] + ([] if os.name == "nt" else ["m"])}
    exts = []
    for pyx in sorted((HERE / KERNEL_DIR).glob("*.pyx")):
        if wanted and pyx.stem not in wanted:
            continue
        exts.append(
            Extension(
                f"nnfast._kernels.{pyx.stem}",
                sources=[str(KERNEL_DIR / pyx.name)],
                # numpy's headers: only numpy/random's (the row shuffle draws from a
                # Generator's bit generator); no module cimports numpy
                include_dirs=["csrc", numpy.get_include()],
                **(npyrandom if pyx.stem == "norm" else {}),
            )
        )
    return cythonize(
        exts,
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "nonecheck": False,
            "embedsignature": True,
        },
        nthreads=0,
    )


setup(ext_modules=kernel_extensions(), cmdclass={"build_ext": BuildExt})
