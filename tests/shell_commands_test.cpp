// The launch-script reader the importers use for several servers' commands at once
// (sim/runner/shell_commands.hpp): words as bash would split them, a command at a time.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "sim/input/input_error.hpp"
#include "sim/runner/shell_commands.hpp"

using foresight::read_shell_commands;
using foresight::ShellCommand;
using Words = std::vector<std::string>;

TEST_CASE("a launch script's commands: continued lines, comments, quotes and separators") {
  const std::string script =
      "#!/bin/bash\n"
      "# on node0\n"
      "CUDA_VISIBLE_DEVICES=0,1 python3 -m sglang.launch_server --model-path m \\\n"
      "    --tp 2 --json-model-override-args '{\"a\": \"b c\"}' > prefill.log 2>&1 &\n"
      "python3 -m x --name \"two words\" --e \\\"q\\\" | tee decode.log\n"
      "sleep 5; wait && echo done # all up\n";
  const std::vector<ShellCommand> commands = read_shell_commands(script, "launch.sh");
  REQUIRE(commands.size() == 5);
  CHECK(commands[0].words == Words{"CUDA_VISIBLE_DEVICES=0,1", "python3", "-m", "sglang.launch_server", "--model-path", "m", "--tp", "2",
                                   "--json-model-override-args", "{\"a\": \"b c\"}"});
  CHECK(commands[0].line == 3);
  CHECK(commands[1].words == Words{"python3", "-m", "x", "--name", "two words", "--e", "\"q\""});  // the pipe's tee is not the server's
  CHECK(commands[1].line == 5);
  CHECK(commands[2].words == Words{"sleep", "5"});
  CHECK(commands[3].words == Words{"wait"});
  CHECK(commands[4].words == Words{"echo", "done"});
  CHECK(commands[4].line == 6);
}

TEST_CASE("a launch script: Windows line ends, redirections written together, and an empty script") {
  const std::vector<ShellCommand> commands = read_shell_commands("a --x 1 \\\r\n  --y 2 &>log\r\nb 2>/dev/null <in\r\n", "s.sh");
  REQUIRE(commands.size() == 2);
  CHECK(commands[0].words == Words{"a", "--x", "1", "--y", "2"});
  CHECK(commands[1].words == Words{"b"});
  CHECK(commands[1].line == 3);  // the first command took two lines
  CHECK(read_shell_commands("# nothing\n\n", "s.sh").empty());
  CHECK(read_shell_commands("a b\\", "s.sh").front().words == Words{"a", "b"});  // a backslash that ends the file escapes nothing
}

TEST_CASE("a launch script with a quote that never closes names the file and the line it opens on") {
  try {
    read_shell_commands("a\nb --x 'one\ntwo\n", "launch.sh");
    FAIL("expected an input error");
  } catch (const foresight::InputError& e) {
    CHECK(e.problems().front().file == "launch.sh");
    CHECK(e.problems().front().path == "line 2");
    CHECK(e.problems().front().message == "a ' quote that never closes");
  }
}

TEST_CASE("commands given as words split where a word is ;, & or &&") {
  const auto commands = foresight::split_at_separators({"a", "1", ";", "b", "&&", "c", "&", ";"});
  REQUIRE(commands.size() == 3);
  CHECK(commands[0].words == Words{"a", "1"});
  CHECK(commands[1].words == Words{"b"});
  CHECK(commands[2].words == Words{"c"});
  CHECK(commands[2].line == 0);
}

TEST_CASE("a launch script's variables expand where it uses them, split into words outside quotes") {
  const std::string script =
      "MODEL=meta-llama/Llama-3.1-8B-Instruct\n"
      "export TP=2 PORT=30000\n"
      "COMMON=\"--host 127.0.0.1 --mem-fraction-static 0.85\"\n"
      "NAME='two words'; EMPTY=\n"
      "ALIAS=$MODEL-copy\n"
      "CUDA_VISIBLE_DEVICES=0,1 python3 -m s --model-path $MODEL --tp ${TP} --port \"${PORT}\" $COMMON $EMPTY\n"
      "python3 -m s --name \"$NAME\" --n $NAME --d ${DP:-4} --e ${EP-8} --u $UNSET --q '$MODEL' --w ${TP:+x} --a $ALIAS\n";
  const std::vector<ShellCommand> commands = read_shell_commands(script, "launch.sh");
  REQUIRE(commands.size() == 2);
  CHECK(commands[0].words == Words{"CUDA_VISIBLE_DEVICES=0,1", "python3", "-m", "s", "--model-path", "meta-llama/Llama-3.1-8B-Instruct",
                                   "--tp", "2", "--port", "30000", "--host", "127.0.0.1", "--mem-fraction-static", "0.85"});
  CHECK(commands[0].line == 6);
  // Quoted, a value stays one word; unset, a variable takes its default or stays as written
  // (so that an importer's message shows it); single quotes and other forms expand nothing.
  CHECK(commands[1].words == Words{"python3", "-m", "s", "--name", "two words", "--n", "two", "words", "--d", "4", "--e", "8", "--u",
                                   "$UNSET", "--q", "$MODEL", "--w", "${TP:+x}", "--a", "meta-llama/Llama-3.1-8B-Instruct-copy"});
  CHECK(commands[1].line == 7);
}

TEST_CASE("a variable set before a program is that program's environment, not the script's") {
  const std::vector<ShellCommand> commands = read_shell_commands("TP=4 python3 -m s --tp $TP\ndeclare -x A=1\n", "s.sh");
  REQUIRE(commands.size() == 2);
  CHECK(commands[0].words == Words{"TP=4", "python3", "-m", "s", "--tp", "$TP"});
  CHECK(commands[1].words == Words{"declare", "-x", "A=1"});
}
