# Sourced by ./keyguard and ./run-tests: selects JDK 25 or later and exports JAVA_HOME,
# and reads the JVM flags from the one place they live (the parent pom's keyguard.jvm.flags).

keyguard_java_version() { # prints the feature version of a java binary, e.g. 25
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | head -n 1
}

keyguard_select_jdk() {
  local candidate v
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
    v=$(keyguard_java_version "$JAVA_HOME/bin/java")
    if [ "${v%%.*}" -ge 25 ] 2>/dev/null; then export JAVA_HOME; return 0; fi
  fi
  for candidate in /usr/lib/jvm/*25* /usr/lib/jvm/*-2[6-9]* /opt/java/*25* "$HOME"/.sdkman/candidates/java/25*; do
    [ -x "$candidate/bin/java" ] && [ -x "$candidate/bin/javac" ] || continue
    v=$(keyguard_java_version "$candidate/bin/java")
    if [ "${v%%.*}" -ge 25 ] 2>/dev/null; then export JAVA_HOME="$candidate"; return 0; fi
  done
  cat >&2 <<'MSG'
keyguard: needs a JDK 25 or later (a full JDK: Chronicle and the policy compiler use javac at run time).
  Set JAVA_HOME to one, or install it, e.g. on Debian/Ubuntu with the Adoptium repository:
    apt-get install temurin-25-jdk
MSG
  return 1
}

keyguard_jvm_flags() { # the <keyguard.jvm.flags> property of the parent pom
  sed -n 's:.*<keyguard.jvm.flags>\(.*\)</keyguard.jvm.flags>.*:\1:p' "$1/pom.xml"
}

keyguard_server_flags() { # the <keyguard.server.flags> property: collector and heap for `keyguard serve`
  # With a second argument `production` (or KEYGUARD_PROFILE=production), also the production heap: committed and pre-touched.
  sed -n 's:.*<keyguard.server.flags>\(.*\)</keyguard.server.flags>.*:\1:p' "$1/pom.xml"
  if [ "${2:-${KEYGUARD_PROFILE:-}}" = "production" ]; then
    sed -n 's:.*<keyguard.server.production.flags>\(.*\)</keyguard.server.production.flags>.*:\1:p' "$1/pom.xml"
  fi
}

keyguard_graal_jit_flags() { # turns on the Graal JIT for JavaScript policy functions when its jars were built
  # KEYGUARD_GRAAL_JIT=0: never; =1: always; unset: when a second argument (a policy directory) declares a `function js`
  # (the Graal JIT costs start-up time and rules out the class-data archive, so a gateway without JS functions goes without).
  local dir="$1/runtime-proxy/target/jvmci" jars
  [ "${KEYGUARD_GRAAL_JIT:-}" = "0" ] && return 0
  if [ -z "${KEYGUARD_GRAAL_JIT:-}" ] && [ -n "${2:-}" ]; then
    grep -rqsE '^[[:space:]]*function[[:space:]]+js[[:space:]]' "$2" --include='*.kgp' || return 0
  fi
  jars=$(ls "$dir"/compiler-*.jar "$dir"/truffle-compiler-*.jar "$dir"/collections-*.jar "$dir"/word-*.jar 2>/dev/null | paste -sd: -)
  [ "$(echo "$jars" | tr ':' '\n' | grep -c .)" = "4" ] || return 0
  echo "-XX:+UnlockExperimentalVMOptions -XX:+EnableJVMCI --upgrade-module-path=$jars"
}

export MAVEN_OPTS="${MAVEN_OPTS:---sun-misc-unsafe-memory-access=allow}"
