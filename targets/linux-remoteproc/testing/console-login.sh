#!/bin/sh
# The board double's console: a getty-like login, then a shell, in the double's namespace.
# The password is in $CONSOLE_PASSWORD (set by the double, never printed).
while :; do
  printf '\n%s login: ' "${CONSOLE_HOSTNAME:-mp157-double}"
  IFS= read -r user || exit 0
  [ -n "$user" ] || continue # an empty line: the prompt again, as getty
  printf 'Password: '
  IFS= read -r password || exit 0
  if [ "$user" = root ] && [ "$password" = "$CONSOLE_PASSWORD" ]; then
    printf '\n%s\n' "${CONSOLE_TITLE:-STM32MP157 board double}"
    # As getty: after logout, the login prompt again. The shell does not see the password.
    env -u CONSOLE_PASSWORD -u CONSOLE_HOSTNAME -u CONSOLE_TITLE sh -i 2>&1
    continue
  fi
  sleep 1
  printf '\nLogin incorrect\n'
done
