"""ChatGPT face: `python server_chatgpt.py` serves search and fetch under /chatgpt/."""

import sys

from mssql_mcp.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", "--face", "chatgpt", *sys.argv[1:]]))
