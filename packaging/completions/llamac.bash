# bash completion for llamac (installed as share/bash-completion/completions/llamac). It asks the llamac being
# completed for its own help, so it offers what that llamac accepts: the commands `llamac --help` lists, the flags
# of `llamac COMMAND --help`, the choices a flag's value lists (on|off|auto), file names for a value named FILE,
# MODEL, PATH, DIR or OUT and for arguments, and nothing for any other value (a number, a text).
# _llamac.zsh reads the help the same way.

_llamac() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} llamac=${COMP_WORDS[0]}
    COMPREPLY=()
    if [ "$COMP_CWORD" -eq 1 ]; then
        local commands
        commands=$("$llamac" --help 2> /dev/null | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p')
        mapfile -t COMPREPLY < <(compgen -W "$commands --help --version" -- "$cur")
        return
    fi
    # The option lines of the command's help: those whose first word is a flag, but for a group of flags the command
    # refuses (llama-server's that llamac serve does not offer: their group's title says "refused").
    local help
    help=$("$llamac" "${COMP_WORDS[1]}" --help 2> /dev/null | sed '/^[^ ].*refused/,/^$/d' | grep -E '^ *-')
    if [[ $prev == -* ]]; then
        # The value named after the flag, past its aliases: "-m, --model FILE", "-s/--seed N", "--pooling a|b".
        local value choices='^[a-z0-9_.]+(\|[a-z0-9_.]+)+$' files='FILE|MODEL|PATH|DIR|OUT'
        value=$(grep -oE -- "(^|[ ,/])$prev((, |/)--?[A-Za-z][A-Za-z0-9-]*)* [^ ,;]+" <<< "$help" | head -1 |
            awk '{ print $NF }')
        if [[ $value =~ $choices ]]; then
            mapfile -t COMPREPLY < <(compgen -W "${value//|/ }" -- "$cur")
            return
        elif [[ $value =~ $files ]]; then
            compopt -o filenames
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
            return
        elif [[ $value =~ ^[A-Z] ]]; then
            return
        fi
    fi
    if [[ $cur == -* ]]; then
        local flags
        flags=$(grep -oE '(^|[ ,/|;(])--?[A-Za-z][A-Za-z0-9-]*' <<< "$help" | sed 's/^[ ,/|;(]//' | sort -u)
        mapfile -t COMPREPLY < <(compgen -W "$flags --help" -- "$cur")
    else
        compopt -o filenames
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    fi
}
complete -F _llamac llamac
