#compdef llamac
# zsh completion for llamac (installed as share/zsh/site-functions/_llamac, or vendor-completions under /usr). As
# llamac.bash, it asks the llamac being completed for its own help: the commands of `llamac --help` (with their
# summaries), the flags of `llamac COMMAND --help`, the choices a flag's value lists, files for a value named FILE,
# MODEL, PATH, DIR or OUT and for arguments, nothing for any other value.

local llamac=${words[1]} prev=${words[CURRENT-1]}
if (( CURRENT == 2 )); then
    local -a commands
    commands=(${(f)"$($llamac --help 2> /dev/null | sed -n 's/^  \([a-z][a-z-]*\)   *\(.*\)$/\1:\2/p')"})
    _describe -t commands 'llamac command' commands
    compadd -- --help --version
    return
fi
local help
help=$($llamac ${words[2]} --help 2> /dev/null | sed '/^[^ ].*refused/,/^$/d' | grep -E '^ *-') # not a refused group's
if [[ $prev == -* ]]; then
    local value
    value=$(print -r -- $help | grep -oE -- "(^|[ ,/])$prev((, |/)--?[A-Za-z][A-Za-z0-9-]*)* [^ ,;]+" | head -1 |
        awk '{ print $NF }')
    if [[ $value =~ '^[a-z0-9_.]+(\|[a-z0-9_.]+)+$' ]]; then
        compadd -- ${(s:|:)value}
        return
    elif [[ $value =~ 'FILE|MODEL|PATH|DIR|OUT' ]]; then
        _files
        return
    elif [[ $value =~ '^[A-Z]' ]]; then
        _message -e values "$value"
        return
    fi
fi
if [[ $PREFIX == -* ]]; then
    compadd -- --help ${(f)"$(print -r -- $help | grep -oE '(^|[ ,/|;(])--?[A-Za-z][A-Za-z0-9-]*' |
        sed 's/^[ ,/|;(]//' | sort -u)"}
else
    _files
fi
