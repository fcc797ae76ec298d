#!/usr/bin/env bash
# <xbar.title>Sero runtime</xbar.title>
# <xbar.version>v1.0</xbar.version>
# <xbar.author>Sero</xbar.author>
# <xbar.desc>The sero-ls runtime of a workspace folder: container, host, or degraded (and why).</xbar.desc>
# <xbar.dependencies>sero-ls</xbar.dependencies>
# <xbar.var>string(VAR_SERO_FOLDER=""): Workspace folder (default: your home folder)</xbar.var>
# <swiftbar.hideRunInTerminal>true</swiftbar.hideRunInTerminal>
# <swiftbar.hideDisablePlugin>true</swiftbar.hideDisablePlugin>
#
# A SwiftBar / xbar plugin for the macOS menu bar; the file name's `5s` is its refresh
# interval. Copy (or link) it into the plugin folder and make it executable.
# The folder: the plugin variable VAR_SERO_FOLDER (xbar), else $SERO_FOLDER, else $HOME.
set -u
export PATH="$HOME/.local/bin:/opt/homebrew/bin:/usr/local/bin:$PATH"
folder="${VAR_SERO_FOLDER:-${SERO_FOLDER:-$HOME}}"
sep=$'\x1f'  # a separator that is not whitespace: empty fields stay fields
line=$(sero-ls status --format "{icon} {mode}${sep}{summary}${sep}{message}${sep}{backend}${sep}{container}${sep}{remedy}${sep}{path}" "$folder" 2>&1)
code=$?
IFS="$sep" read -r title summary message backend container remedy path <<<"$line"
case $code in
  0) echo "$title" ;;                         # container
  1) echo "$title | color=#d9822b" ;;         # degraded
  3) echo "$title | color=#8a8a8a" ;;         # host by choice
  *) echo "sero ? | color=red"; echo "---"; echo "$line"; exit 0 ;;
esac
echo "---"
echo "${path:-$folder}"
echo "$summary"
echo "${message:0:120}"
[ -n "$backend" ] && echo "Backend: $backend${container:+, container $container}"
[ -n "$remedy" ] && echo "Fix: $remedy | font=Menlo"
echo "Refresh | refresh=true"
